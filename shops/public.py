"""(public shop page and API: being built.)"""

from flask import Blueprint as PageBlueprint
from flask_smorest import Blueprint

api_blp = Blueprint("shops_public", __name__, url_prefix="/api/v1/shops")
page_bp = PageBlueprint("shop_pages", __name__)
