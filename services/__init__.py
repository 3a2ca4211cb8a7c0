"""What the API and the command line both do to the engine: open a case, reach a case."""
