"""The "book again" address: the visit's branch, service and master put into the salon's widget URL."""

from bridge.booking.widget import book_again_url

YCLIENTS = "https://n1.yclients.com/company/{branch_id}/personal/select-time?o=m{staff_id}s{service_id}"


def test_the_visits_values_fill_the_widget_address_quoted():
    assert book_again_url(YCLIENTS, branch="111111", service_id="3333", staff_id="2222") == \
        "https://n1.yclients.com/company/111111/personal/select-time?o=m2222s3333"
    assert book_again_url("https://w.example/{branch_id}?s={service_id}&m={staff_id}", branch="1/2",
                          service_id="a&b", staff_id="Анна") == "https://w.example/1%2F2?s=a%26b&m=%D0%90%D0%BD%D0%BD%D0%B0"


def test_a_value_the_visit_lacks_is_left_empty_and_no_widget_means_no_address():
    assert book_again_url(YCLIENTS, branch="111111", service_id="3333", staff_id=None).endswith("?o=ms3333")
    assert book_again_url(None, branch="1", service_id="2", staff_id="3") is None
