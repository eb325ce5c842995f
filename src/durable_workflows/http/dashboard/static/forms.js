// Forms generated from JSON schemas (pydantic's): objects become fieldsets, enums selects,
// booleans checkboxes, numbers and strings inputs; anything else (lists, dicts, unions of
// models) a JSON text box. Every form can also be edited as raw JSON.

import { h, uid } from "./dom.js";

/** Raised by read() when an input holds no valid value; `input` is the element to focus. */
export class FormError extends Error {
  constructor(message, input) {
    super(message);
    this.input = input;
  }
}

function resolve(schema, root) {
  let s = schema || {};
  for (let i = 0; i < 20; i += 1) {
    if (s.$ref) {
      const name = s.$ref.split("/").pop();
      const defs = root.$defs || root.definitions || {};
      s = { ...defs[name], ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
    } else if (Array.isArray(s.allOf) && s.allOf.length === 1) {
      const { allOf, ...rest } = s;
      s = { ...allOf[0], ...rest };
    } else {
      return s;
    }
  }
  return s;
}

function optionalOf(schema) {
  const options = schema.anyOf || schema.oneOf;
  if (!Array.isArray(options)) return null;
  const others = options.filter((o) => o.type !== "null");
  return others.length === 1 && others.length < options.length ? others[0] : null;
}

function labelFor(id, text, required) {
  return h("label", { for: id }, text, required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null);
}

function hint(schema, id) {
  return schema.description ? h("p", { class: "hint", id }, schema.description) : null;
}

/** One input for `schema`, the property `title` ("" for the root value, labelled `rootLabel`
 * unless the schema has a title); returns {el, read}. */
function field(rawSchema, root, title, required, initial, rootLabel = "Value") {
  const optional = optionalOf(rawSchema);
  const schema = resolve(optional || rawSchema, root);
  const name = rawSchema.title || schema.title || title || rootLabel;
  const id = uid("f");
  const hintId = schema.description || rawSchema.description ? `${id}-hint` : null;
  const describe = hintId ? { "aria-describedby": hintId } : {};
  const help = hint({ description: rawSchema.description || schema.description }, hintId);
  const isRequired = required && !optional;
  const start = initial !== undefined ? initial : rawSchema.default !== undefined ? rawSchema.default : schema.default;

  if (schema.const !== undefined) {
    const input = h("input", { id, type: "text", value: JSON.stringify(schema.const), readonly: true, ...describe });
    return { el: h("div", { class: "field" }, labelFor(id, name, false), input, help), read: () => schema.const };
  }

  if (Array.isArray(schema.enum)) {
    const select = h("select", { id, required: isRequired, ...describe });
    if (!isRequired) select.append(h("option", { value: "" }, "(none)"));
    schema.enum.forEach((value, index) => {
      const option = h("option", { value: String(index) }, typeof value === "string" ? value : JSON.stringify(value));
      if (start !== undefined && JSON.stringify(start) === JSON.stringify(value)) option.selected = true;
      select.append(option);
    });
    return {
      el: h("div", { class: "field" }, labelFor(id, name, isRequired), select, help),
      read: () => (select.value === "" ? (optional ? null : undefined) : schema.enum[Number(select.value)]),
    };
  }

  if (schema.type === "boolean" && !optional) {
    const box = h("input", { id, type: "checkbox", ...describe });
    box.checked = start === true;
    return {
      el: h("div", { class: "field check" }, box, labelFor(id, name, false), help),
      read: () => box.checked,
    };
  }

  if (schema.type === "boolean") {
    const select = h("select", { id, ...describe },
      h("option", { value: "" }, "(none)"), h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
    if (start === true) select.value = "true";
    if (start === false) select.value = "false";
    return {
      el: h("div", { class: "field" }, labelFor(id, name, false), select, help),
      read: () => (select.value === "" ? null : select.value === "true"),
    };
  }

  if (schema.type === "integer" || schema.type === "number") {
    const input = h("input", {
      id, type: "number", inputmode: schema.type === "integer" ? "numeric" : "decimal",
      step: schema.type === "integer" ? "1" : "any", required: isRequired,
      min: schema.minimum, max: schema.maximum, ...describe,
    });
    if (typeof start === "number") input.value = String(start);
    return {
      el: h("div", { class: "field" }, labelFor(id, name, isRequired), input, help),
      read: () => {
        if (input.value.trim() === "") {
          if (isRequired) throw new FormError(`${name} is required`, input);
          return optional ? null : undefined;
        }
        if (!input.checkValidity()) throw new FormError(`${name}: ${input.validationMessage}`, input);
        const number = Number(input.value);
        if (!Number.isFinite(number) || (schema.type === "integer" && !Number.isInteger(number))) {
          throw new FormError(`${name} must be ${schema.type === "integer" ? "a whole number" : "a number"}`, input);
        }
        return number;
      },
    };
  }

  if (schema.type === "string") {
    const long = (schema.maxLength || 0) > 200 || title === "" || /description|text|message|body|comment/i.test(name);
    const types = { date: "date", email: "email", uri: "url" };
    const input = long
      ? h("textarea", { id, rows: 3, required: isRequired, ...describe })
      : h("input", { id, type: types[schema.format] || "text", required: isRequired, minlength: schema.minLength, maxlength: schema.maxLength, pattern: schema.pattern, ...describe });
    if (typeof start === "string") input.value = start;
    return {
      el: h("div", { class: "field" }, labelFor(id, name, isRequired), input, help),
      read: () => {
        if (input.value === "" && !isRequired && optional) return null;
        if (input.value === "" && isRequired) throw new FormError(`${name} is required`, input);
        if (input.value === "" && start === undefined && !isRequired) return undefined;
        if (!input.checkValidity()) throw new FormError(`${name}: ${input.validationMessage}`, input);
        return input.value;
      },
    };
  }

  if (schema.type === "object" && schema.properties && !optional) {
    const requiredNames = new Set(schema.required || []);
    const values = start && typeof start === "object" ? start : {};
    const children = Object.entries(schema.properties).map(([key, sub]) => [key, field(sub, root, key, requiredNames.has(key), values[key])]);
    const legend = title === "" ? null : h("legend", {}, name);
    const el = h("fieldset", { class: title === "" ? "fields root" : "fields" }, legend, help, children.map(([, f]) => f.el));
    return {
      el,
      read: () => {
        const out = {};
        for (const [key, f] of children) {
          const value = f.read();
          if (value !== undefined) out[key] = value;
        }
        return out;
      },
    };
  }

  // Lists, dicts, unions of models, anything: JSON text.
  const area = h("textarea", { id, rows: 4, class: "json", spellcheck: "false", required: isRequired, ...describe });
  area.value = start !== undefined ? JSON.stringify(start, null, 2) : "";
  const note = h("p", { class: "hint" }, "JSON");
  return {
    el: h("div", { class: "field" }, labelFor(id, name, isRequired), area, note, help),
    read: () => {
      if (area.value.trim() === "") {
        if (isRequired) throw new FormError(`${name} is required`, area);
        return optional ? null : undefined;
      }
      try {
        return JSON.parse(area.value);
      } catch (error) {
        throw new FormError(`${name} is not valid JSON: ${error.message}`, area);
      }
    },
  };
}

/**
 * A form body for `schema`: the generated fields, and a button switching to raw JSON.
 * Returns {el, read()}; read() returns the value or throws FormError.
 */
export function schemaFields(schema, { label = "Value", initial } = {}) {
  const root = schema || {};
  const generated = field(root, root, "", true, initial, label);
  const rawId = uid("raw");
  const raw = h("textarea", { id: rawId, rows: 8, class: "json", spellcheck: "false" });
  const rawField = h("div", { class: "field", hidden: true },
    h("label", { for: rawId }, `${label} as JSON`), raw);
  let rawMode = false;
  const toggle = h("button", { type: "button", class: "link", "aria-pressed": "false" }, "Edit as JSON");
  const container = h("div", { class: "schema-form" }, generated.el, rawField, toggle);
  toggle.addEventListener("click", () => {
    rawMode = !rawMode;
    if (rawMode) {
      try {
        const value = generated.read();
        raw.value = JSON.stringify(value === undefined ? null : value, null, 2);
      } catch {
        raw.value = raw.value || "";
      }
    }
    generated.el.hidden = rawMode;
    rawField.hidden = !rawMode;
    toggle.textContent = rawMode ? "Edit as form" : "Edit as JSON";
    toggle.setAttribute("aria-pressed", String(rawMode));
    (rawMode ? raw : generated.el.querySelector("input, select, textarea") || toggle).focus();
  });
  return {
    el: container,
    read() {
      if (!rawMode) return generated.read();
      try {
        return JSON.parse(raw.value);
      } catch (error) {
        throw new FormError(`not valid JSON: ${error.message}`, raw);
      }
    },
  };
}
