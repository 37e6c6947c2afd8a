"""The label PDF and image files: every QR decodes to its URL, the Chinese name is real text."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile

import pytest
import zxingcpp
from PIL import Image

from app.extensions import db
from shops import codes, printsheet
from shops.models import ShopStatus
from tests.shops.test_codes import new_shop  # noqa: F401  (fixture)

needs_poppler = pytest.mark.skipif(
    not shutil.which("pdftoppm") or not shutil.which("pdftotext"),
    reason="poppler-utils (pdftoppm, pdftotext) not installed",
)


def qr_texts(img: Image.Image) -> set[str]:
    return {r.text for r in zxingcpp.read_barcodes(img)}


@pytest.fixture
def labels(app, new_shop):  # noqa: F811
    names = [
        "老边饺子馆（中街店）",
        "李记五金建材商行",
        "鑫鑫汽车修理厂有限公司沈河分公司第一门市部",
    ]
    shops = [new_shop(names[i % 3] + str(i)) for i in range(14)]
    shops.append(new_shop("已暂停的店", status=ShopStatus.SUSPENDED))
    codes.issue_missing([s.id for s in shops])
    with app.test_request_context():
        return printsheet.load_labels()


@needs_poppler
def test_pdf_and_images_decode(app, labels, tmp_path):
    assert len(labels) == 14  # the suspended shop gets no label
    with app.app_context():
        count = printsheet.write_all(labels, tmp_path / "qr", tmp_path / "labels.pdf", workers=0)
    assert count == 14
    for lb in labels:
        assert qr_texts(Image.open(tmp_path / "qr" / f"{lb.code}.png")) == {lb.url}
        assert (tmp_path / "qr" / f"{lb.code}.svg").read_text().startswith("<svg")
    subprocess.run(["pdftoppm", "-r", "150", "-png", tmp_path / "labels.pdf", tmp_path / "p"],
                   check=True)  # fmt: skip
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) == 2  # 12 labels a page
    found = set().union(*(qr_texts(Image.open(p)) for p in pages))
    assert found == {lb.url for lb in labels}
    first = set(qr_texts(Image.open(pages[0])))
    assert len(first) == 12
    text = subprocess.run(["pdftotext", "-layout", tmp_path / "labels.pdf", "-"],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert "老边饺子馆（中街店）0" in text and labels[0].code in text
    assert "扫码查看商户信息" in text


@needs_poppler
def test_cli_qr_writes_everything(app, labels, tmp_path, monkeypatch):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["shops", "qr", "--out", str(tmp_path / "out"), "--workers", "0"],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "labels.pdf").stat().st_size > 10_000
    assert len(list((tmp_path / "out").glob("*.png"))) == 14
    assert (tmp_path / "out" / "labels.csv").read_text("utf-8-sig").count("\n") == 15
    zipped = runner.invoke(args=["shops", "qr", "--out", str(tmp_path / "z"), "--zip"])
    assert zipped.exit_code == 0, zipped.output
    with zipfile.ZipFile(tmp_path / "z" / "qr-images.zip") as archive:
        assert len(archive.namelist()) == 28
        png = Image.open(io.BytesIO(archive.read(f"{labels[0].code}.png")))
    assert qr_texts(png) == {labels[0].url}


def test_wxacodes_batch_against_the_emulator(app, new_shop, monkeypatch):  # noqa: F811
    from app.storage import get_storage

    shop = new_shop()
    code = codes.issue_code(shop)
    monkeypatch.setitem(app.config, "WECHAT_WXACODE_ENABLED", True)
    with app.test_request_context():
        run = codes.generate_missing_wxacodes(limit=5, sleep=lambda _s: None)
        assert run.stored >= 1 and run.failed == 0 and run.stopped is None
        db.session.refresh(code)
        data = get_storage().get(code.wxacode_key)
    assert data.startswith(b"\x89PNG")


def test_wxacode_errors(app, monkeypatch):
    from wechat import wxacode
    from wechat.service import WeChatError
    from wechat.wxacode import get_wxacode_unlimit

    with app.test_request_context():
        assert get_wxacode_unlimit("AB12CD34", "pages/shop/index").startswith(b"\x89PNG")
        with pytest.raises(WeChatError) as rate:
            get_wxacode_unlimit("ratelimit1", "pages/shop/index")
        assert rate.value.errcode == 45009 and rate.value.retryable
        with pytest.raises(WeChatError) as bad:
            get_wxacode_unlimit("x" * 33, "pages/shop/index")
        assert bad.value.errcode == 40169
        monkeypatch.setattr(wxacode, "SCENE_RE", re.compile(".*"))
        with pytest.raises(WeChatError) as refused:  # the emulator refuses it too
            get_wxacode_unlimit("中文", "pages/shop/index")
        assert refused.value.errcode == 40169
