"""``ETag`` and ``If-None-Match`` for a JSON view (shared/API.md: GET /feed)."""

from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers, set_response_etag
from rest_framework.request import Request
from rest_framework.response import Response


class ETagMixin:
    """A 200 answer carries a strong ETag of its body; a request whose ``If-None-Match`` names it gets
    304 with no body (the app polling its feed downloads nothing when nothing changed).

    The tag is the body's hash, so anything that shows (a new post, a caption, a count, the latest
    like) changes it, and two users never share one: the answer is private to its token.
    """

    def finalize_response(self, request: Request, response: Response, *args, **kwargs) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method not in ("GET", "HEAD") or response.status_code != 200:
            return response
        response.render()
        set_response_etag(response)
        patch_cache_control(response, private=True, no_cache=True)
        patch_vary_headers(response, ("Authorization",))
        return get_conditional_response(request._request, etag=response["ETag"], response=response)
