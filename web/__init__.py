"""Byline's web layer: the HTTP API, security middleware, the embeddable widget and the
HTML rendering helpers used by the Gradio chat in ``app.py``."""
