"""Distillation: a teacher's answers become a dataset (``generate``), a smaller student is cut or
chosen (``student``), trained on them (the ``train`` stage, SFT or logit KD), and measured against
the teacher (``card``). ``stage.py`` runs these as the phases of one ``distill`` run."""
