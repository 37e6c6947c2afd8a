"""(staff QR endpoints: being built.)"""

from flask_smorest import Blueprint

blp = Blueprint("shops_qr", __name__, url_prefix="/api/v1/staff/shops")
