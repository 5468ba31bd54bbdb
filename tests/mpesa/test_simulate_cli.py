"""`flask mpesa simulate-c2b` pays the local sandbox's paybill over HTTP."""

from tests.mpesa.daraja_helpers import sandbox, wait_for  # noqa: F401 - fixture
from tests.mpesa.test_sandbox import call, receiver, token  # noqa: F401 - fixture


def test_simulate_c2b_pays_the_paybill_through_the_provider(app, runner, sandbox,  # noqa: F811
                                                            receiver):  # noqa: F811
    payee = receiver()
    call(sandbox.url + "/mpesa/c2b/v1/registerurl", "POST", {
        "ShortCode": int(app.config["MPESA_SHORTCODE"]), "ResponseType": "Completed",
        "ConfirmationURL": payee.url + "/confirm", "ValidationURL": payee.url + "/validate"},
        {"Authorization": f"Bearer {token(sandbox)}"})
    app.config["MPESA_BASE_URL"] = sandbox.url
    result = runner.invoke(args=["mpesa", "simulate-c2b", "mlk 42", "300",
                                 "--phone", "254708374149"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Daraja: ")
    wait_for(lambda: len(payee.received) == 2)
    (_, validation), (path, confirmation) = payee.received
    assert path == "/confirm"
    assert confirmation["BillRefNumber"] == "mlk 42" and confirmation["TransAmount"] == "300.00"


def test_simulate_c2b_is_refused_in_production(app, runner):
    app.config["MPESA_ENV"] = "production"
    result = runner.invoke(args=["mpesa", "simulate-c2b", "mlk 42", "300"])
    assert result.exit_code != 0 and "only in the sandbox" in result.output
