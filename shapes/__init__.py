"""SHACL shapes for City Tools data, shipped as package data."""
