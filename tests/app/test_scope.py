"""Roles and department scope, the checks every staff action relies on."""

from __future__ import annotations

from app.auth import scope
from app.auth.models import Role


def test_handler_acts_for_own_department_and_below_only(make_department, make_staff):
    city = make_department("SY", "沈阳市城市管理综合行政执法局")
    tiexi = make_department("SY-210106", "铁西区城管局", parent=city)
    street = make_department("SY-210106-01", "兴华街道", parent=tiexi, kind="street")
    heping = make_department("SY-210102", "和平区城管局", parent=city)
    handler = make_staff("h1", roles=(Role.HANDLER,), department=tiexi)
    assert scope.covers(handler, department_id=tiexi.id)
    assert scope.covers(handler, department_id=street.id)
    assert not scope.covers(handler, department_id=heping.id)
    assert not scope.covers(handler, department_id=city.id)
    assert not scope.covers(handler, department_id=None)


def test_city_wide_staff_and_admins_act_everywhere(make_department, make_staff):
    city = make_department("SY", "沈阳市城市管理综合行政执法局")
    heping = make_department("SY-210102", "和平区城管局", parent=city)
    dispatcher = make_staff("d1", roles=(Role.DISPATCHER,))
    admin = make_staff("a1", roles=(Role.ADMIN,), department=heping)
    assert scope.covers(dispatcher, department_id=heping.id)
    assert scope.covers(dispatcher, department_id=None)
    assert scope.covers(admin, department_id=city.id)


def test_roles_are_checked(make_staff):
    finance = make_staff("f1", roles=(Role.FINANCE,))
    admin = make_staff("a2", roles=(Role.ADMIN,))
    assert finance.has_role(Role.FINANCE)
    assert not finance.has_role(Role.DISPATCHER, Role.HANDLER)
    assert admin.has_role(Role.DISPATCHER)
