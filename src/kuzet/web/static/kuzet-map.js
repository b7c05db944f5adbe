/* Kuzet map helpers: a Leaflet map that still works without tiles, zone layers, local times. */
(function () {
  "use strict";
  var body = document.body;
  var tz = body.dataset.timezone || "Asia/Almaty";
  var locale = body.dataset.locale || "ru";
  var intlLocale = { kk: "kk-KZ", ru: "ru-RU", en: "en-GB" }[locale] || "ru-RU";

  function fmt(iso) {
    if (!iso) { return "—"; }
    try {
      return new Intl.DateTimeFormat(intlLocale, { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(new Date(iso));
    } catch (e) { return iso; }
  }

  function makeMap(el, tileUrl, centre) {
    var map = L.map(el, { zoomControl: true }).setView(centre || [43.238, 76.889], 12);
    if (tileUrl) {
      // Tiles are decoration: zones, positions and trails are vector layers drawn without them.
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: "© OpenStreetMap" }).addTo(map);
    }
    L.control.scale({ metric: true, imperial: false }).addTo(map);
    return map;
  }

  function zoneStyle(kind) {
    return kind === "exclusion"
      ? { color: "#b00020", weight: 2, fillOpacity: 0.15, dashArray: "6 4" }
      : { color: "#1e7b34", weight: 2, fillOpacity: 0.12 };
  }

  function shapeLayer(shape, outline, kind) {
    var style = zoneStyle(kind);
    if (shape.type === "Circle") {
      return L.circle([shape.coordinates[1], shape.coordinates[0]], Object.assign({ radius: shape.radius_m }, style));
    }
    if (shape.type === "Corridor" && (!outline || !outline.length)) {
      return L.polyline(shape.coordinates.map(function (p) { return [p[1], p[0]]; }), style);
    }
    if (outline && outline.length) { return L.polygon(outline, style); }
    if (shape.type === "Polygon") {
      return L.polygon(shape.coordinates[0].map(function (p) { return [p[1], p[0]]; }), style);
    }
    return L.layerGroup();
  }

  function zoneLayer(z) {
    var layer = shapeLayer(z.shape, z.outline, z.kind);
    if (layer.bindTooltip) { layer.bindTooltip((z.name || z.code) + " (" + z.kind + ")"); }
    return layer;
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  window.Kuzet = { fmt: fmt, makeMap: makeMap, zoneLayer: zoneLayer, shapeLayer: shapeLayer,
                   zoneStyle: zoneStyle, readJSON: readJSON, tz: tz, locale: locale };
})();
