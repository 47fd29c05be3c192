// WebAuthn ceremonies of Gatehouse's pages (A5), served as a file: the pages' CSP allows no
// inline script. A form with data-webauthn="create" (register) or "get" (sign in) carries the
// server's options in data-options; its button runs the ceremony, puts the browser's answer
// in the form's "credential" field, and submits the form.
(function () {
  "use strict";

  function bytes(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
  }

  function text(buffer) {
    let raw = "";
    new Uint8Array(buffer).forEach((b) => { raw += String.fromCharCode(b); });
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(options) {
    const pk = options.publicKey;
    pk.challenge = bytes(pk.challenge);
    pk.user.id = bytes(pk.user.id);
    (pk.excludeCredentials || []).forEach((c) => { c.id = bytes(c.id); });
    return { publicKey: pk };
  }

  function requestOptions(options) {
    const pk = options.publicKey;
    pk.challenge = bytes(pk.challenge);
    (pk.allowCredentials || []).forEach((c) => { c.id = bytes(c.id); });
    return { publicKey: pk };
  }

  function registration(c) {
    return {
      id: c.id,
      rawId: text(c.rawId),
      type: c.type,
      extensions: c.getClientExtensionResults(),
      response: {
        attestationObject: text(c.response.attestationObject),
        clientDataJSON: text(c.response.clientDataJSON),
        transports: c.response.getTransports ? c.response.getTransports() : [],
      },
    };
  }

  function assertion(c) {
    return {
      id: c.id,
      rawId: text(c.rawId),
      type: c.type,
      extensions: c.getClientExtensionResults(),
      response: {
        authenticatorData: text(c.response.authenticatorData),
        clientDataJSON: text(c.response.clientDataJSON),
        signature: text(c.response.signature),
        userHandle: c.response.userHandle ? text(c.response.userHandle) : null,
      },
    };
  }

  function wire(form) {
    const button = form.querySelector("button");
    const status = form.querySelector("[data-webauthn-status]");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      button.disabled = true;
      if (status) status.textContent = "This browser cannot use passkeys.";
      return;
    }
    button.addEventListener("click", async () => {
      if (!form.reportValidity()) return;
      const options = JSON.parse(form.dataset.options);
      button.disabled = true;
      if (status) status.textContent = "Follow your browser's prompt…";
      try {
        const answer = form.dataset.webauthn === "create"
          ? registration(await navigator.credentials.create(creationOptions(options)))
          : assertion(await navigator.credentials.get(requestOptions(options)));
        form.elements.credential.value = JSON.stringify(answer);
        form.submit();
      } catch (e) {
        button.disabled = false;
        if (status) status.textContent = "No passkey was used (" + e.name + "). Try again, or use another way.";
      }
    });
  }

  document.querySelectorAll("form[data-webauthn]").forEach(wire);
})();
