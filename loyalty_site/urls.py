"""Root URLs of a single web pool (``WEB_POOL=all``): the tills' API and the staff side together.

Production splits them over two gunicorn pools (``urls_tills``, ``urls_staff``; README,
deployment). Apps add their own includes to one of those two modules.
"""

from loyalty_site import urls_staff, urls_tills

urlpatterns = [*urls_tills.urlpatterns, *urls_staff.urlpatterns]
