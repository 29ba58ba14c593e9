// The API reference at /docs: Swagger UI (served from the installed flask-swagger-ui package) drawing this
// service's OpenAPI document, with every request and response body shown as its fields rather than an example.
"use strict";

(() => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.document,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout", // no top bar: this page shows this service's document, no other
    deepLinking: true, // an opened operation is in the address bar, so it can be shared
    docExpansion: "list",
    defaultModelRendering: "model", // bodies open on their schema: fields, types, limits, descriptions
    defaultModelExpandDepth: 3, // a body shows its fields with their descriptions, and so does the brief inside it
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    queryConfigEnabled: false, // the address bar cannot point the page at another document
    validatorUrl: null, // no outside validator is asked about the document
  });
})();
