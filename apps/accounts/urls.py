from django.urls import path

from apps.accounts import api

urlpatterns = [
    path("auth/signup", api.SignupApi.as_view(), name="auth-signup"),
    path("auth/login", api.LoginApi.as_view(), name="auth-login"),
    path("auth/facebook", api.FacebookLoginApi.as_view(), name="auth-facebook"),
    path("auth/facebook/link", api.FacebookLinkApi.as_view(), name="auth-facebook-link"),
    path("auth/refresh", api.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", api.LogoutApi.as_view(), name="auth-logout"),
    path("users/me", api.MeApi.as_view(), name="users-me"),
    path("users/me/picture", api.MePictureApi.as_view(), name="users-me-picture"),
    path("users/me/location", api.MeLocationApi.as_view(), name="users-me-location"),
    path("users/search", api.UserSearchApi.as_view(), name="users-search"),
    path("users/<str:user_id>", api.UserDetailApi.as_view(), name="users-detail"),
]
