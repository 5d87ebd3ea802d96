"""Sphinx configuration for the skcross documentation."""

import skcross

project = "skcross"
version = release = skcross.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
autosummary_generate = True
numpydoc_show_class_members = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
