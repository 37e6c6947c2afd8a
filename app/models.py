"""Import every model module so metadata is complete (migrations, create_all, CLI)."""

from app import audit, changes  # noqa: F401
from app.auth import models as auth_models  # noqa: F401
from app.db import apply_table_options  # noqa: E402
from app.extensions import db  # noqa: E402
from app.geo import models as geo_models  # noqa: F401
from app.media import models as media_models  # noqa: F401
from app.news import models as news_models  # noqa: F401
from reports import models as reports_models  # noqa: F401
from reports.littering import models as littering_models  # noqa: F401
from services_nearby import models as nearby_models  # noqa: F401
from shops import models as shops_models  # noqa: F401
from wechat import models as wechat_models  # noqa: F401

apply_table_options(db.metadata)
