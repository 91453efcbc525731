"""Demo and synthetic retailers.

Pure modules (pandas / numpy / pyarrow, no Django import; tested on tiny hand-made frames):

- ``completejourney_files``: reads 84.51° "The Complete Journey" (only the columns used).
- ``completejourney``: its tables -> frames shaped like the import contract (stores, products,
  customers, transactions + lines, bonus types, offers, weekly promotion history).
- ``derived``: seeded, plausible inventory and competitor prices for the demo (``is_synthetic``).
- ``synthetic`` (with ``synthetic_catalog`` and ``synthetic_frames``): a generative model of a
  whole retailer with documented ground truth.

Django side (writes through ``loyalty_site.bulk.insert_frame``):

- ``writing``: shared writers (contract frames -> rows, demo staff users, phase timing).
- ``purge``: deletes a demo retailer's rows table by table.
- ``dbtuning``: planner statistics after a bulk load (ANALYZE).
- ``loader``: ``demo_load`` behind ``manage.py load_demo``.
- ``generator``: ``synthetic_retailer_generate`` behind ``manage.py generate_retailer``.

See docs/demo-data.md and docs/synthetic-data.md.
"""
