"""Request and response schemas for sign-in."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate


class MiniProgramLoginIn(ma.Schema):
    """The code from wx.login()."""

    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=128))


class StaffLoginIn(ma.Schema):
    """Username and password of a staff account."""

    username = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = ma.fields.String(
        required=True, load_only=True, validate=validate.Length(min=1, max=256)
    )


class TokenOut(ma.Schema):
    """Our own bearer token (WeChat's session_key never leaves the server)."""

    token = ma.fields.String(required=True)
    token_type = ma.fields.String(dump_default="Bearer")
    expires_at = ma.fields.AwareDateTime(required=True)


class CitizenOut(ma.Schema):
    """A citizen as they see themselves."""

    id = ma.fields.Integer()
    nickname = ma.fields.String(allow_none=True)
    apps = ma.fields.List(ma.fields.String())


class CitizenTokenOut(TokenOut):
    """Token plus who it signs in."""

    user = ma.fields.Nested(CitizenOut)
    is_new = ma.fields.Boolean()


class DepartmentOut(ma.Schema):
    """A department reference."""

    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()


class StaffOut(ma.Schema):
    """A staff account as it sees itself."""

    id = ma.fields.Integer()
    username = ma.fields.String()
    display_name = ma.fields.String()
    roles = ma.fields.Method("dump_roles")
    department = ma.fields.Nested(DepartmentOut, allow_none=True)

    def dump_roles(self, obj) -> list[str]:
        return sorted(r.value for r in obj.roles)


class StaffTokenOut(TokenOut):
    """Token plus the staff account."""

    staff = ma.fields.Nested(StaffOut)
