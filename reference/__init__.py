"""Reference data shipped with the product, with provenance and licences (see PROVENANCE.md)."""
