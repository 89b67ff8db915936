"""SHACL validation: shapes compiled to SPARQL and the validator that runs them."""
