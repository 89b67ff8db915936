"""The City Tools OWL ontology (Turtle), shipped as package data."""
