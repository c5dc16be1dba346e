"""Browser UI: a thin Gradio shell over the qa API."""
