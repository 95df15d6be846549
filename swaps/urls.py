from django.urls import path

from swaps import views

app_name = "swaps"

urlpatterns = [
    path("", views.swap_page, name="swap_page"),
]
