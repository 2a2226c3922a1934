"""Stage ``deploy.foundry``: a Foundry Local package of one variant (``stage.py``), its files
(``package``, ``template``), where it comes from (``source``), its smoke test (``smoke``) and the
Foundry Local SDK, always in a child interpreter (``sdk``, ``sdk_child``)."""
