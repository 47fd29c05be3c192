// Submits the OAuth form_post response (served as a file: the CSP allows no inline script).
document.getElementById("response").submit();
