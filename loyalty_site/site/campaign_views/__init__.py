"""Staff pages of campaigns and weekly promotions (namespace ``campaigns``), one module per
concern. They start allocation and promotion runs (optimizer) from campaigns' pages, so they sit
in the top layer; ``loyalty_site/site/campaign_urls.py`` imports the modules it routes to."""
