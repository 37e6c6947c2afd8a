"""(staff shop API: being built.)"""

from flask_smorest import Blueprint

blp = Blueprint("shops_staff", __name__, url_prefix="/api/v1/staff/shops")
