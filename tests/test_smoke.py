"""The app starts, serves its login page, and sends strangers to it."""


def test_login_page_is_served(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b'name="login"' in response.data


def test_members_without_login_redirects_to_login(client, setup_association):
    response = client.get("/members")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]


def test_ids_beyond_an_integer_column_are_simply_not_found(web, people):
    """PostgreSQL refuses to compare 99999999999999 with an integer column: the route
    itself must not match, on every database."""
    web.login("chair")
    for path in ("/members/99999999999999", "/members/2147483648",
                 "/expenses/99999999999999", "/members/99999999999999/statement"):
        assert web.get(path).status_code == 404, path
    assert web.get(f"/members/{people.other_member_id}").status_code == 200
