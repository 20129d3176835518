"""Tasks on real text: named-entity recognition and text classification, with their file
readers, tagging schemes, vocabularies and entity-level F1."""
