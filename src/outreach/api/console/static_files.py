"""The console's own CSS and JavaScript, shipped inside the package: nothing loads from the
network when a page opens. Only files of the package's ``static`` folder are served."""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from outreach.api.access import open_route
from outreach.api.console.assets import static_files
from outreach.api.console.rendering import SECURITY_HEADERS
from outreach.api.errors import ApiError

router = APIRouter(prefix="/console/static", include_in_schema=False)


@router.get(
    "/{name}", dependencies=[Depends(open_route("the console's static files: no data in them"))]
)
def static_file(name: str) -> Response:
    content = static_files().get(name)
    if content is None:
        raise ApiError(404, "not_found", "no such file")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    headers = {
        **SECURITY_HEADERS,
        "Cache-Control": "public, max-age=31536000, immutable",
    }
    return Response(content, media_type=media_type, headers=headers)
