"""Staff pages of the retailers app (included at the site root).

The dashboard shares this ``retailers`` namespace but spans several apps, so the top layer adds it
(``loyalty_site/urls_staff.py``).
"""

from django.urls import path

from retailers import views

app_name = "retailers"

urlpatterns = [
    path("retailer/switch/", views.retailer_switch_view, name="switch"),
    path("retailer/new/", views.RetailerCreateView.as_view(), name="create"),
    path("team/", views.TeamView.as_view(), name="team"),
    path("team/<int:pk>/role/", views.MembershipRoleView.as_view(), name="member-role"),
]
