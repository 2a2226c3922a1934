"""Stage ``deploy.bench``: the load benchmark (``stage.py``) and its measurement from client
threads (``load``)."""
