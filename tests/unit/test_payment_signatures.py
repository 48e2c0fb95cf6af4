"""Every published and computed test vector of spec/payments.md (§1.10, §2.10), through our adapters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from bridge.payments import PROVIDERS, CallbackError, CheckoutOrder, NotOurs, SignatureError
from bridge.payments.liqpay import LiqPay, encode, sign, verify
from bridge.payments.wayforpay import WayForPay, amount_text, json_number
from bridge.payments.wayforpay import sign as wfp_sign
from config.prepayment import PROVIDER_CURRENCIES
from config.prepayment_model import LiqPaySettings, WayForPaySettings
from pipelines.prepayment import ProviderStatus

DOC_KEY = "a4825234f4bae72a0be04eafe9e8e2bada209255"
WFP_SECRET = "flk3409refn54t54t*FNJRET"

# --- LiqPay §1.10 -------------------------------------------------------------------------------------

V1_JSON = {"public_key": "i00000000", "version": "3", "action": "pay", "amount": "3", "currency": "UAH",
           "description": "test", "order_id": "000001"}
V1_DATA = ("eyJwdWJsaWNfa2V5IjoiaTAwMDAwMDAwIiwidmVyc2lvbiI6IjMiLCJhY3Rpb24iOiJwYXkiLCJhbW91bnQiOiIzIiwiY3VycmVuY3kiOi"
           "JVQUgiLCJkZXNjcmlwdGlvbiI6InRlc3QiLCJvcmRlcl9pZCI6IjAwMDAwMSJ9")
V2_DATA = ("eyJwdWJsaWNfa2V5IjoiaTAwMDAwMDAwIiwidmVyc2lvbiI6NywiYWN0aW9uIjoicGF5IiwiYW1vdW50IjoiMyIsImN1cnJlbmN5IjoiVU"
           "FIIiwiZGVzY3JpcHRpb24iOiJ0ZXN0Iiwib3JkZXJfaWQiOiIwMDAwMDEifQ==")
V4_DATA = ("eyAidmVyc2lvbiIgOiAzLCAicHVibGljX2tleSIgOiAieW91cl9wdWJsaWNfa2V5IiwgImFjdGlv\n"
           "biIgOiAicGF5IiwgImFtb3VudCIgOiAxLCAiY3VycmVuY3kiIDogIlVTRCIsICJkZXNjcmlwdGlv\n"
           "biIgOiAiZGVzY3JpcHRpb24gdGV4dCIsICJvcmRlcl9pZCIgOiAib3JkZXJfaWRfMSIgfQ==")
V6_DATA = ("eyJ2ZXJzaW9uIjozLCJwdWJsaWNfa2V5Ijoic2FuZGJveF9pMDAwMDAwMDAiLCJhY3Rpb24iOiJwYXkiLCJhbW91bnQiOiIzMDAuMDAiLCJ"
           "jdXJyZW5jeSI6IlVBSCIsImRlc2NyaXB0aW9uIjoi0J/QtdGA0LXQtNC+0L/Qu9Cw0YLQsDog0LzQsNC90ZbQutGO0YAgMTQuMDYgMTA6MDAi"
           "LCJvcmRlcl9pZCI6ImJrLTAwMDEyMy1hMSIsImV4cGlyZWRfZGF0ZSI6IjIwMjUtMDYtMTMgMTI6MDA6MDAiLCJsYW5ndWFnZSI6InVrIiwi"
           "cmVzdWx0X3VybCI6Imh0dHBzOi8vc2Fsb24uZXhhbXBsZS9wYXkvcmV0dXJuIiwic2VydmVyX3VybCI6Imh0dHBzOi8vc2Fsb24uZXhhbXBs"
           "ZS93ZWJob29rcy9saXFwYXkiLCJzYW5kYm94IjoxfQ==")


def test_v1_docs_data_and_sha1_signature():
    assert encode(V1_JSON) == V1_DATA
    assert sign(DOC_KEY, V1_DATA) == "wR+UZDC4jjeL/qUOvIsofIWpZh8="


def test_v2_version_7_is_signed_with_sha3_256_only():
    assert encode({**V1_JSON, "version": 7}) == V2_DATA
    assert sign(DOC_KEY, V2_DATA, "sha3_256") == "0adgJ8F2Ds5HCVkcz4AlmdLMRoIJf7IxsL3QmeFRz/s="
    assert sign(DOC_KEY, V2_DATA, "sha1") == "CZQ2WPZ4+rJnKdg5BT9lSsJtXZk="  # not the published value


def test_v3_callback_docs_example():
    assert sign("your_private_key", "base64_post_string") == "tp+ZLmKm1/E83dIzUpx5ljcttP4="
    assert verify("your_private_key", "base64_post_string", "tp+ZLmKm1/E83dIzUpx5ljcttP4=")


def test_v4_checkout_docs_signature_covers_the_exact_wrapped_data():
    assert sign("your_private_key", V4_DATA) == "QvJD5u9Fg55PCx/Hdz6lzWtYwcI="
    assert sign("your_private_key", V4_DATA.replace("\n", "")) == "MPgGw632itnbRVDSd/KyNEGrAsQ="


def test_v5_python_sdk_vector():
    params = {"version": 3, "amount": "10", "currency": "USD", "action": "pay", "order_id": "123456",
              "description": "Test Order", "language": "en", "public_key": "your_public_key"}
    data = base64.b64encode(json.dumps(params, sort_keys=True).encode()).decode()
    assert sign("your_private_key", data) == "x4uWEaw2f35T0IoiVfECyKsbIeY="


def salon_order(**kw) -> CheckoutOrder:
    args = {"order_ref": "bk-000123-a1", "amount": Decimal("300"), "currency": "UAH",
            "description": "Передоплата: манікюр 14.06 10:00", "callback_url": "https://salon.example/webhooks/liqpay",
            "created_at": datetime.fromtimestamp(1749800000, UTC), "expires_at": datetime(2025, 6, 13, 12, tzinfo=UTC),
            "result_url": "https://salon.example/pay/return", "language": "uk"}
    return CheckoutOrder(**{**args, **kw})


def liqpay(signature: str = "sha1", sandbox: bool = True) -> LiqPay:
    return LiqPay(LiqPaySettings("P", "K", signature=signature, sandbox=sandbox), "sandbox_i00000000", DOC_KEY)


@pytest.mark.parametrize(("signature", "expected"), [
    ("sha1", "8Zw+ZtIMInzFtg+WgzcT4f64FKg="),
    ("sha3-256", "FiOF9jiGR2cuuY7bLJCCEacwpmT1NiIgSDRP49UpLP4="),
])
def test_v6_salon_checkout_link(signature, expected):
    link = liqpay(signature).checkout(salon_order())
    query = parse_qs(urlsplit(link).query)
    assert link.startswith("https://www.liqpay.ua/api/3/checkout?")
    assert query["signature"] == [expected]
    if signature == "sha1":
        assert query["data"] == [V6_DATA]
        assert "%2FQtdGA0LXQtNC%2B0L%2F" in link and "signature=8Zw%2BZtIMInzFtg%2BWgzcT4f64FKg%3D" in link
    else:
        assert json.loads(base64.b64decode(query["data"][0]))["version"] == 7


SYNTHETIC = {"action": "pay", "payment_id": 1234567, "status": "success", "version": 3, "type": "buy",
             "paytype": "card", "public_key": "sandbox_i00000000", "order_id": "bk-000123-a1",
             "liqpay_order_id": "ABCD1234", "description": "Передоплата", "amount": 300, "currency": "UAH",
             "transaction_id": 1234567}


def liqpay_form(payload: dict, key: str = DOC_KEY, algorithm: str = "sha1") -> bytes:
    data = encode(payload)
    return urlencode({"data": data, "signature": sign(key, data, algorithm)}).encode()


def test_synthetic_callback_vector_and_what_it_reports():
    data = encode(SYNTHETIC)
    assert sign(DOC_KEY, data) == "Sfrozks7bagZxKWlc2ajDE8cb0U="
    report = liqpay().parse_callback(liqpay_form(SYNTHETIC), "application/x-www-form-urlencoded")
    assert (report.order_ref, report.status, report.amount, report.currency) == (
        "bk-000123-a1", ProviderStatus.PAID, Decimal("300"), "UAH")
    assert (report.provider_status, report.provider_payment_id) == ("success", "1234567")


def test_callbacks_verify_with_either_digest_whatever_version_we_send():
    for algorithm in ("sha1", "sha3_256"):
        assert liqpay("sha1").parse_callback(liqpay_form(SYNTHETIC, algorithm=algorithm), "").status is \
            ProviderStatus.PAID


@pytest.mark.parametrize("body", [
    liqpay_form(SYNTHETIC, key="another-private-key"),
    liqpay_form(SYNTHETIC).replace(b"signature=", b"signature=A"),
    urlencode({"data": encode({**SYNTHETIC, "amount": 3}), "signature": "Sfrozks7bagZxKWlc2ajDE8cb0U="}).encode(),
    urlencode({"data": encode(SYNTHETIC), "signature": "short"}).encode(),
])
def test_a_tampered_or_foreign_signature_is_refused(body):
    with pytest.raises(SignatureError) as caught:
        liqpay().parse_callback(body, "application/x-www-form-urlencoded")
    assert DOC_KEY not in str(caught.value)


@pytest.mark.parametrize("body", [b"", b"data=abc", b"\xff\xfe", b"data=a&data=b&signature=c"])
def test_an_unreadable_callback_is_a_callback_error(body):
    with pytest.raises(CallbackError):
        liqpay().parse_callback(body, "application/x-www-form-urlencoded")


def test_a_verified_callback_for_another_public_key_or_action_is_not_ours():
    with pytest.raises(NotOurs) as caught:
        liqpay().parse_callback(liqpay_form({**SYNTHETIC, "public_key": "i999"}), "")
    assert caught.value.order_ref == "bk-000123-a1"
    with pytest.raises(NotOurs, match="hold"):
        liqpay().parse_callback(liqpay_form({**SYNTHETIC, "action": "hold"}), "")


@pytest.mark.parametrize(("status", "sandbox", "expected"), [
    ("success", False, ProviderStatus.PAID), ("wait_compensation", False, ProviderStatus.PAID),
    ("wait_accept", False, ProviderStatus.PAID), ("failure", False, ProviderStatus.FAILED),
    ("error", False, ProviderStatus.FAILED), ("try_again", False, ProviderStatus.FAILED),
    ("reversed", False, ProviderStatus.REFUNDED), ("processing", False, ProviderStatus.PENDING),
    ("3ds_verify", False, ProviderStatus.PENDING), ("hold_wait", False, ProviderStatus.PENDING),
    ("something_new", False, ProviderStatus.PENDING),
    ("sandbox", True, ProviderStatus.PAID), ("sandbox", False, ProviderStatus.FAILED),
])
def test_liqpay_status_mapping(status, sandbox, expected):
    body = liqpay_form({**SYNTHETIC, "status": status})
    assert liqpay(sandbox=sandbox).parse_callback(body, "").status is expected


# --- WayForPay §2.10 ----------------------------------------------------------------------------------

def wayforpay(account: str = "test_merch_n1") -> WayForPay:
    return WayForPay(WayForPaySettings(account, "S", "salon.example", test_mode=True), WFP_SECRET)


@pytest.mark.parametrize(("secret", "text", "expected"), [
    (WFP_SECRET, "test_merch_n1;INV-1479196343", "bc54562dc1fa928b52fd3eb0e4d36937"),  # W1
    (WFP_SECRET, "test_merch_n1;AP-1749645521-4956;490;UAH;847011;51****5977;Approved;1100",
     "454fd4698293514a13449ff2836de2ac"),  # W2
    ("dhkq3vUi94{Z!5frxs(02ML", "test_merchant;www.market.ua;DH783023;1415379863;1547.36;UAH;Процессор Intel Core "
     "i5-4670 3.4GHz;Память Kingston DDR3-1600 4096MB PC3-12800;1;1;1000;547.36", "3f787303ac524389b4a76383f9508251"),
    ("dhkq3vUi94{Z!5frxs(02ML", "test_merchant;www.market.ua;DH783023;1415379863;1547.36;UAH;Процесор Intel Core "
     "i5-4670 3.4GHz;Пам'ять Kingston DDR3-1600 4096MB PC3-12800;1;1;1000;547.36", "4941ea0c7f5b4833c2bd06b1fefcdc0b"),
    (WFP_SECRET, "test_merch_n1;salon.example;bk-000123-a1;1749800000;300;UAH;Передоплата: манікюр 14.06 10:00;1;300",
     "73a3bbb85f37cfce3a796ff67db7daa7"),  # W4
    (WFP_SECRET, "test_merch_n1;salon.example;bk-000123-a1;1749800000;250.5;UAH;Манікюр;Дизайн;1;2;200;25.25",
     "787ccf07e325e686440681a5d113b39e"),  # W5
    (WFP_SECRET, "bk-000123-a1;accept;1749800100", "5b08a03d11742d813706076c7a7f102a"),  # W6
    (WFP_SECRET, "test_merch_n1;bk-000123-a1", "8e139a04ca4b3d4f96cff2e0413794ab"),  # W7
])
def test_wayforpay_hmac_md5_vectors(secret, text, expected):
    assert wfp_sign(secret, text.split(";")) == expected


def test_w4_the_salon_invoice_request_is_signed_as_published():
    request = wayforpay().invoice_request(salon_order(expires_at=None, result_url=None))
    assert request["merchantSignature"] == "73a3bbb85f37cfce3a796ff67db7daa7"
    assert (request["transactionType"], request["amount"], request["productPrice"]) == ("CREATE_INVOICE", 300, [300])
    assert json.dumps(request["amount"]) == "300"


def test_w5_amounts_are_written_in_the_canonical_text_they_are_signed_with():
    assert [amount_text(Decimal(x)) for x in ("250.50", "25.25", "300.00", "1547.36", "0.10")] == [
        "250.5", "25.25", "300", "1547.36", "0.1"]
    assert [json.dumps(json_number(t)) for t in ("250.5", "300", "1547.36")] == ["250.5", "300", "1547.36"]


def test_w6_the_accept_answer():
    answer = wayforpay().answer("bk-000123-a1", datetime.fromtimestamp(1749800100, UTC))
    assert answer.status == 200 and answer.content_type == "application/json"
    assert json.loads(answer.body) == {"orderReference": "bk-000123-a1", "status": "accept", "time": 1749800100,
                                       "signature": "5b08a03d11742d813706076c7a7f102a"}


def test_w7_the_status_request_signature():
    request = wayforpay()._signed_request("CHECK_STATUS", "bk-000123-a1")
    assert request["merchantSignature"] == "8e139a04ca4b3d4f96cff2e0413794ab"


W2_BODY = (b'{"merchantAccount":"test_merch_n1","orderReference":"AP-1749645521-4956",'
           b'"merchantSignature":"454fd4698293514a13449ff2836de2ac","amount":490,"currency":"UAH","authCode":"847011",'
           b'"email":"x","phone":"x","createdDate":1749645522,"processingDate":1749645656,"cardPan":"51****5977",'
           b'"cardType":"MasterCard","issuerBankCountry":"Ukraine","issuerBankName":"JSC CB PRIVATBANK","recToken":"",'
           b'"transactionStatus":"Approved","reason":"Ok","reasonCode":1100,"fee":9.8,"paymentSystem":"card",'
           b'"acquirerBankName":"WayForPay","cardProduct":"debit","clientName":"x"}')


def test_w2_the_real_approved_callback_verifies_whatever_the_content_type():
    for content_type in ("application/json", "application/x-www-form-urlencoded", ""):
        report = wayforpay().parse_callback(W2_BODY, content_type)
        assert (report.order_ref, report.status, report.amount, report.currency, report.provider_payment_id) == (
            "AP-1749645521-4956", ProviderStatus.PAID, Decimal("490"), "UAH", "847011")


def test_an_amount_written_490_0_still_verifies_php_style():
    body = W2_BODY.replace(b'"amount":490,', b'"amount":490.0,')
    assert wayforpay().parse_callback(body, "").amount == Decimal("490")


def test_a_declined_callback_signs_empty_values_in_their_slots():
    fields = {"merchantAccount": "test_merch_n1", "orderReference": "bk-1-1", "amount": 1, "currency": "UAH",
              "authCode": "", "cardPan": "", "transactionStatus": "Declined", "reasonCode": 1124,
              "reason": "Cardholder session expired"}
    signature = wfp_sign(WFP_SECRET, ["test_merch_n1", "bk-1-1", "1", "UAH", "", "", "Declined", "1124"])
    report = wayforpay().parse_callback(json.dumps({**fields, "merchantSignature": signature}).encode(), "")
    assert report.status is ProviderStatus.FAILED and report.reason == "Cardholder session expired (1124)"


@pytest.mark.parametrize("body", [
    W2_BODY.replace(b'"amount":490,', b'"amount":4900,'),
    W2_BODY.replace(b'"Approved"', b'"Refunded"'),
    W2_BODY.replace(b"454fd4698293514a13449ff2836de2ac", b"454fd4698293514a13449ff2836de2ad"),
    W2_BODY.replace(b'"merchantSignature":"454fd4698293514a13449ff2836de2ac",', b""),
])
def test_a_tampered_wayforpay_callback_is_refused(body):
    with pytest.raises(SignatureError) as caught:
        wayforpay().parse_callback(body, "application/json")
    assert WFP_SECRET not in str(caught.value)


def test_a_verified_callback_of_another_merchant_is_not_ours():
    with pytest.raises(NotOurs):
        wayforpay(account="salon_merchant").parse_callback(W2_BODY, "")


@pytest.mark.parametrize(("status", "expected"), [
    ("Approved", ProviderStatus.PAID), ("Declined", ProviderStatus.FAILED), ("Expired", ProviderStatus.FAILED),
    ("Refunded", ProviderStatus.REFUNDED), ("Voided", ProviderStatus.REFUNDED),
    ("RefundInProcessing", ProviderStatus.PENDING), ("InProcessing", ProviderStatus.PENDING),
    ("Pending", ProviderStatus.PENDING), ("WaitingAuthComplete", ProviderStatus.PENDING),
    ("Created", ProviderStatus.OPEN),
])
def test_wayforpay_status_mapping(status, expected):
    fields = ["test_merch_n1", "bk-1-1", "300", "UAH", "1", "4111", status, "1100"]
    body = dict(zip(("merchantAccount", "orderReference", "amount", "currency", "authCode", "cardPan",
                     "transactionStatus", "reasonCode"), fields, strict=True))
    body["merchantSignature"] = wfp_sign(WFP_SECRET, fields)
    assert wayforpay().parse_callback(json.dumps(body).encode(), "").status is expected


def test_a_description_with_separators_cannot_shift_the_signed_fields():
    form = dict(wayforpay().purchase_form(salon_order(description="Манікюр; педикюр\nі дизайн")))
    assert form["productName[]"] == "Манікюр, педикюр і дизайн"
    assert form["orderTimeout"] == str(int((datetime(2025, 6, 13, 12, tzinfo=UTC).timestamp()) - 1749800000))


def test_adapters_never_show_secrets_in_repr():
    assert DOC_KEY not in repr(liqpay()) and WFP_SECRET not in repr(wayforpay())


def test_every_provider_the_config_accepts_has_an_adapter():
    assert set(PROVIDERS) == set(PROVIDER_CURRENCIES)
