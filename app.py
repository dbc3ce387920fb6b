#!/usr/bin/env python
"""The rnnformers demo app: `python app.py` (as a Hugging Face Space runs it), or with the folders to serve:

    python app.py --char_rnn outputs/char-rnn-shakespeare --classifier outputs/gru-imdb \
        --translator outputs/nmt-en-es-v3 --tagger outputs/tagger-ewt-char [--host 127.0.0.1 --port 7860]

Needs the `app` extra (`pip install -e ".[app]"`: Gradio, plotly). The page's logic is `rnnformers.app`.
"""

import sys
from pathlib import Path


try:
    import rnnformers  # noqa: F401
except ImportError:  # a checkout run without installing the package (e.g. a Space): the source tree beside this file
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from rnnformers.app import main  # noqa: E402


if __name__ == "__main__":
    main()
