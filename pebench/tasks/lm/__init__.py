"""Language modelling on a character or byte corpus (loss per evaluation context) and
passkey retrieval at a controlled depth."""
