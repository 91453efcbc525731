"""Demo and synthetic retailers.

Pure modules (pandas / numpy / pyarrow, no Django import; tested on tiny hand-made frames):

- ``completejourney``: 84.51° "The Complete Journey" tables -> frames shaped like the import
  contract (stores, products, customers, transactions + lines, bonus types, offers, promotions).
- ``derived``: seeded, plausible inventory and competitor prices for the demo (``is_synthetic``).
- ``synthetic``: a generative model of a whole retailer with documented ground truth.

Django side (writes through ``loyalty_site.bulk.insert_frame``):

- ``writing``: shared writers (replace a demo retailer quickly, write frames, demo staff users).
- ``loader``: ``demo_load`` behind ``manage.py load_demo``.
- ``generator``: ``synthetic_retailer_generate`` behind ``manage.py generate_retailer``.

See docs/demo-data.md and docs/synthetic-data.md.
"""
