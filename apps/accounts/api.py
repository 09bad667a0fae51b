"""Auth and user endpoints (shared/API.md, "Auth" and "Users")."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import facebook, selectors, services, tokens
from apps.accounts.models import USERNAME_REGEX
from apps.accounts.serializers import (
    LocationSerializer,
    OwnUserSerializer,
    TokensSerializer,
    UserSerializer,
    location_data,
    own_user_render,
    user_render,
)
from apps.common.fields import StrictCharField, StrictFloatField
from apps.common.pagination import paginated_schema
from apps.common.rendering import RenderContext, rendered_page_response
from apps.common.throttling import PerIPThrottle, PerUserThrottle


class UsernameField(serializers.RegexField):
    def __init__(self, **kwargs):
        super().__init__(USERNAME_REGEX, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):  # a JSON string, as the schema says: 0 or true is not a username
            self.fail("invalid")
        value = data.strip().lower()
        if not value and self.allow_blank:
            return None  # clients send "" for "no username"
        return super().to_internal_value(value)


def _name_field(**kwargs) -> StrictCharField:
    return StrictCharField(min_length=1, max_length=100, **kwargs)


def _device_field() -> StrictCharField:
    return StrictCharField(min_length=1, max_length=128)


def _auth_body(user, issued: tokens.Tokens, request: Request, **extra) -> dict:
    return {"user": OwnUserSerializer(user, context={"request": request}).data, "tokens": issued, **extra}


AuthResponse = inline_serializer("AuthResponse", {"user": OwnUserSerializer(), "tokens": TokensSerializer()})
# Error answers only some endpoints give (apps/common/schema.py adds the Error body and the common ones).
USERNAME_TAKEN = "`username_taken`: another user has this username."
FACEBOOK_UNAVAILABLE = OpenApiResponse(
    description="`facebook_unavailable`: Facebook does not answer; `facebook_not_configured`: Facebook login is off."
)
SEARCH_QUERY_MAX_LENGTH = 254


class OpenAuthApi(APIView):
    """Base of the endpoints that need no token; rate-limited per client IP."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [PerIPThrottle, PerUserThrottle]


class SignupApi(OpenAuthApi):
    throttle_scope = "signup"

    class SignupInputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        name = _name_field()
        username = UsernameField(required=False, allow_null=True, allow_blank=True)
        device_id = _device_field()

    @extend_schema(
        request=SignupInputSerializer,
        responses={
            201: AuthResponse,
            409: OpenApiResponse(description=f"`email_taken`: an account has this email. {USERNAME_TAKEN}"),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.SignupInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, issued = services.user_signup(**data.validated_data)
        return Response(_auth_body(user, issued, request), status=status.HTTP_201_CREATED)


class LoginApi(OpenAuthApi):
    throttle_scope = "login"

    class LoginInputSerializer(serializers.Serializer):
        login = StrictCharField(max_length=254)
        password = StrictCharField(max_length=128, trim_whitespace=False)
        device_id = _device_field()

    @extend_schema(
        request=LoginInputSerializer,
        responses={
            200: AuthResponse,
            401: OpenApiResponse(description="`invalid_credentials`: wrong login or password."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, issued = services.user_login(**data.validated_data)
        return Response(_auth_body(user, issued, request))


class FacebookLoginApi(OpenAuthApi):
    throttle_scope = "login"

    class FacebookLoginInputSerializer(serializers.Serializer):
        access_token = StrictCharField(max_length=1024)
        device_id = _device_field()

    @extend_schema(
        request=FacebookLoginInputSerializer,
        responses={
            200: inline_serializer(
                "FacebookAuthResponse",
                {"user": OwnUserSerializer(), "tokens": TokensSerializer(), "created": serializers.BooleanField()},
            ),
            401: OpenApiResponse(
                description="`invalid_facebook_token`: Facebook refuses the token; "
                "`account_disabled`: the account is off."
            ),
            409: OpenApiResponse(description="`email_taken`: an account has the Facebook email: log in, then link."),
            503: FACEBOOK_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.FacebookLoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user, issued, created = facebook.facebook_login(request=request, **data.validated_data)
        return Response(_auth_body(user, issued, request, created=created))


class FacebookLinkApi(APIView):
    class FacebookLinkInputSerializer(serializers.Serializer):
        access_token = StrictCharField(max_length=1024)

    @extend_schema(
        request=FacebookLinkInputSerializer,
        responses={
            200: OwnUserSerializer,
            401: OpenApiResponse(description="`invalid_facebook_token`: Facebook refuses the token."),
            409: OpenApiResponse(
                description="`facebook_already_linked`: another user has this Facebook account; "
                "`facebook_link_conflict`: it cannot be linked."
            ),
            503: FACEBOOK_UNAVAILABLE,
        },
    )
    def post(self, request: Request) -> Response:
        data = self.FacebookLinkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = facebook.facebook_link(request=request, user=request.user, **data.validated_data)
        return Response(OwnUserSerializer(user, context={"request": request}).data)


class RefreshApi(OpenAuthApi):
    throttle_scope = "refresh"

    class RefreshInputSerializer(serializers.Serializer):
        refresh_token = StrictCharField(max_length=255)

    @extend_schema(
        request=RefreshInputSerializer,
        responses={
            200: TokensSerializer,
            401: OpenApiResponse(description="`invalid_token`: the refresh token is invalid, expired or already used."),
        },
    )
    def post(self, request: Request) -> Response:
        data = self.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(tokens.tokens_refresh(**data.validated_data))


class LogoutApi(APIView):
    class LogoutInputSerializer(serializers.Serializer):
        scope = serializers.ChoiceField(choices=tokens.LOGOUT_SCOPES, default="this_device")

    @extend_schema(request=LogoutInputSerializer, responses={204: None})
    def post(self, request: Request) -> Response:
        data = self.LogoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens.tokens_revoke(user=request.user, current_access_token=request.auth, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    class MeInputSerializer(serializers.Serializer):
        name = _name_field(required=False)
        username = UsernameField(required=False)
        bio = StrictCharField(max_length=150, required=False, allow_blank=True)

    @extend_schema(responses={200: OwnUserSerializer})
    def get(self, request: Request) -> Response:
        # request.user is the active user the token check just loaded: no second read of the row.
        linked = selectors.user_facebook_linked(user=request.user)
        return Response(own_user_render(request.user, request=request, facebook_linked=linked))

    @extend_schema(
        request=MeInputSerializer, responses={200: OwnUserSerializer, 409: OpenApiResponse(description=USERNAME_TAKEN)}
    )
    def patch(self, request: Request) -> Response:
        data = self.MeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_update(user=request.user, **data.validated_data)
        return Response(OwnUserSerializer(user, context={"request": request}).data)


class MePictureApi(APIView):
    parser_classes = [MultiPartParser]  # a file: multipart only

    class MePictureInputSerializer(serializers.Serializer):
        picture = serializers.FileField(allow_empty_file=False)

    @extend_schema(
        request=MePictureInputSerializer,
        responses={
            200: OwnUserSerializer,
            413: OpenApiResponse(description="`too_large`: the picture has too many bytes or pixels."),
            415: OpenApiResponse(description="`not_an_image`: the picture is not a JPEG, PNG, WebP or HEIC image."),
        },
    )
    def put(self, request: Request) -> Response:
        data = self.MePictureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_picture_set(user=request.user, file=data.validated_data["picture"])
        return Response(OwnUserSerializer(user, context={"request": request}).data)


class MeLocationApi(APIView):
    class MeLocationInputSerializer(serializers.Serializer):
        latitude = StrictFloatField(min_value=-90, max_value=90)
        longitude = StrictFloatField(min_value=-180, max_value=180)

    @extend_schema(request=MeLocationInputSerializer, responses={200: LocationSerializer})
    def put(self, request: Request) -> Response:
        data = self.MeLocationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_location_set(user=request.user, **data.validated_data)
        return Response(location_data(user))


class UserDetailApi(APIView):
    @extend_schema(
        responses={200: UserSerializer, 404: OpenApiResponse(description="`user_not_found`: unknown or inactive user.")}
    )
    def get(self, request: Request, user_id: str) -> Response:
        user = selectors.user_get(user_id=user_id, viewer=request.user)
        return Response(UserSerializer(user, context={"request": request}).data)


class UserSearchApi(APIView):
    class UserSearchFilterSerializer(serializers.Serializer):
        q = StrictCharField(min_length=1, max_length=SEARCH_QUERY_MAX_LENGTH)  # trimmed first

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                # What the filter takes: after trimming, 1 to 254 characters, so some non-blank one; no NUL.
                {"type": "string", "minLength": 1, "maxLength": SEARCH_QUERY_MAX_LENGTH,
                 "pattern": r"^[^\x00]*[^\s\x00][^\x00]*$"},
                required=True,
                description="An exact email, or a prefix of a username or name",
            ),
        ],
        responses={200: paginated_schema(UserSerializer, "UserList")},
    )
    def get(self, request: Request) -> Response:
        filters = self.UserSearchFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        users = selectors.user_search(query=filters.validated_data["q"], viewer=request.user)
        ctx = RenderContext(request)
        return rendered_page_response(
            request=request, view=self, queryset=selectors.user_rows(users), ordering=("id",),
            render=lambda rows: [user_render(row, ctx) for row in rows],
        )
