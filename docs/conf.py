"""Sphinx configuration for the pssh documentation."""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def _read_version():
    # Parsed rather than imported, so that the version shows even when the
    # package's dependencies are missing.
    with open(os.path.join(ROOT, 'pssh', '__init__.py'), encoding='utf-8') as fh:
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", fh.read(), re.MULTILINE)
    return match.group(1) if match else 'unknown'


project = 'pssh'
author = 'the pssh developers'
copyright = '2026, the pssh developers'
release = _read_version()
version = '.'.join(release.split('.')[:2])

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]

# No intersphinx: the docs must build with no network.
nitpicky = False
exclude_patterns = ['_build', 'Thumbs.db', '.DS_Store']
master_doc = 'index'
language = 'en'
pygments_style = 'sphinx'

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_default_options = {
    'show-inheritance': True,
}
autoclass_content = 'both'

html_theme = 'alabaster'
html_title = f'pssh {release}'
html_static_path = []
