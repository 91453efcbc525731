"""Staff pages of the campaigns app, one module per concern (``promotions.py``: weekly
promotion proposals). ``campaigns/urls.py`` imports the modules it routes to."""
