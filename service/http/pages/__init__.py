"""HTML pages: Jinja2 templates and server-side SVG charts."""
