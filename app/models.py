"""Import the shell's model modules (each feature imports its own in ``init_app``); the factory
gives every table its MariaDB options once the features are plugged in."""

from app import audit, changes, privacy  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.geo import models as geo_models  # noqa: F401
from app.media import models as media_models  # noqa: F401
from app.news import models as news_models  # noqa: F401
