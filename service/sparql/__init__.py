"""SPARQL text tools: the lexer, the SERVICE guard, text rewriting, result serialisation."""
