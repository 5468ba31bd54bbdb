"""The app starts, serves its login page, and sends strangers to it."""


def test_login_page_is_served(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="login"' in response.data


def test_members_without_login_redirects_to_login(client, setup_association):
    response = client.get("/members")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]
