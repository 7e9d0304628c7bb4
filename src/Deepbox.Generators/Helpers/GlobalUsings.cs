// The runtime's attribute and enum definitions, compiled into the generator from the runtime's own source file.
global using Deepbox.Generators.Linked;
