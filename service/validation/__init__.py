"""SHACL validation: shapes compiled to SPARQL, the validator that runs them, and pySHACL
for the shapes outside the compiled subset."""
