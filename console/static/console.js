// The console's own script: live countdowns and ECharts from JSON options. No inline script anywhere (CSP).
(function () {
  "use strict";

  function span(ms) {
    var minutes = Math.floor(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    if (days > 0) return days + "天" + hours + "小时";
    if (hours > 0) return hours + "小时" + mins + "分";
    if (minutes > 0) return mins + "分钟";
    return Math.floor(Math.abs(ms) / 1000) + "秒";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      var left = due - now;
      el.textContent = left >= 0 ? "剩余 " + span(left) : "超期 " + span(left);
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 3600000);
    });
  }

  var charts = [];
  function drawCharts(root) {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source || el.getAttribute("data-drawn")) return;
      var option = JSON.parse(source.textContent);
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(option);
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    drawCharts(document);
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
  document.addEventListener("htmx:afterSettle", function (evt) { tick(); drawCharts(evt.target); });

  function polling(elt) {
    return !!elt && (elt.getAttribute("hx-trigger") || "").indexOf("every") >= 0;
  }

  // A form box the person is using: opened (a refused one comes back open, with its message) or typed into.
  function inUse(box) {
    if (box.open) return true;
    return Array.prototype.some.call(box.querySelectorAll("input, textarea, select"), function (el) {
      if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
      if (el.tagName === "SELECT") {
        return Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; });
      }
      return el.value !== el.defaultValue;
    });
  }

  // The page's own refresh never takes a form from under the person using it: the refreshed part comes in with
  // that box marked hx-preserve, so htmx keeps the box on the page as it is (what was typed, its refusal) while
  // the rest is new. A box whose action the case no longer offers stays at the end of its section. The kept form
  // still says which state of the case it was filled in (seq): sent, a state the case has left is refused, and
  // the page then shows the case as it is.
  document.addEventListener("htmx:beforeSwap", function (evt) {
    // The swap's own `elt` is its target; the element that asked is the request's.
    var asked = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    if (!polling(asked) || !evt.detail.shouldSwap || typeof evt.detail.serverResponse !== "string") return;
    var kept = Array.prototype.filter.call(asked.querySelectorAll("details.action-box[id]"), inUse);
    if (!kept.length) return;
    var fresh = document.createElement("template");
    fresh.innerHTML = evt.detail.serverResponse;
    kept.forEach(function (box) {
      var place = fresh.content.getElementById(box.id);
      if (!place) {
        var section = box.closest("section[id]");
        var home = section ? fresh.content.getElementById(section.id) : null;
        if (!home) return;
        place = document.createElement("details");
        place.id = box.id;
        home.appendChild(place);
      }
      place.setAttribute("hx-preserve", "true");
    });
    evt.detail.serverResponse = fresh.innerHTML;
  });

  // A click whose answer htmx does not swap (the service away: 5xx, or no answer at all) says why, in the words
  // of the page the server sent, so that it is never met with silence: on the form that was sent, or in place of
  // what was asked for (the board's case panel). A poll that fails leaves the page as it was.
  function failed(evt) {
    var elt = evt.detail.elt;
    if (!elt || !elt.closest || polling(elt)) return;
    var text = "无法连接服务，请稍后重试";
    var xhr = evt.detail.xhr;
    if (xhr && xhr.responseText) {
      var said = new DOMParser().parseFromString(xhr.responseText, "text/html").querySelector(".message p");
      text = said && said.textContent.trim() ? said.textContent.trim() : "服务暂时不可用，请稍后重试";
    }
    var form = elt.closest("form");
    var alert = form ? form.querySelector("p.error.unsent") : null;
    if (!alert) {
      alert = document.createElement("p");
      alert.className = "error unsent";
      alert.setAttribute("role", "alert");
      if (form) form.insertBefore(alert, form.querySelector("button[type=submit]"));
      else if (evt.detail.target) evt.detail.target.replaceChildren(alert);
    }
    alert.textContent = text;
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();
