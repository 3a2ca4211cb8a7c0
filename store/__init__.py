"""What the API, the worker, the console and the command line keep outside Temporal: the read-model database
(its engine and migrations), the reporter vault, and the idempotent writes they are made with."""
