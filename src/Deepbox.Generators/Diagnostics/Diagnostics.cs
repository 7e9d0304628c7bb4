using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Deepbox.Generators;

/// <summary>Every diagnostic the generator reports, with stable ids.</summary>
internal static class Diagnostics
{
    private const string Category = "Deepbox";

    public static readonly DiagnosticDescriptor NotPartial = Error(
        "DBX0001", "Model class must be partial",
        "Class '{0}' has Deepbox layer attributes but is not partial; declare it 'partial class {0}'");

    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = Error(
        "DBX0002", "Containing type must be partial",
        "Class '{0}' is nested in '{1}', which is not partial; declare '{1}' partial");

    public static readonly DiagnosticDescriptor Generic = Error(
        "DBX0003", "Model class cannot be generic",
        "Class '{0}' is generic; a Deepbox model has fixed sizes, remove the type parameters");

    public static readonly DiagnosticDescriptor SizeOutOfRange = Error(
        "DBX0004", "Layer size out of range",
        "[{0}] {1} is {2}; it must be between 1 and {3} ({4})");

    public static readonly DiagnosticDescriptor WidthMismatch = Error(
        "DBX0005", "Layer input size does not match the width coming in",
        "[{0}] takes {1} = {2}, but the layer before it gives {3}{4}; set {1} to {3}");

    public static readonly DiagnosticDescriptor DropoutOutOfRange = Error(
        "DBX0006", "Dropout out of range",
        "[{0}] Dropout is {1}; it must be at least 0 and less than 1");

    public static readonly DiagnosticDescriptor BatchFirstDiffers = Error(
        "DBX0007", "BatchFirst differs between layers",
        "[{0}] BatchFirst = {1} differs from the model's first recurrent layer ({2}); use one layout for the whole model");

    public static readonly DiagnosticDescriptor LastStepTwice = Error(
        "DBX0008", "LastStep used more than once",
        "[LastStep] appears more than once on '{0}'; keep one");

    public static readonly DiagnosticDescriptor RecurrentAfterLastStep = Error(
        "DBX0009", "Recurrent layer after LastStep",
        "[{0}] comes after [LastStep], which removed the time dimension; move [LastStep] after the recurrent layers");

    public static readonly DiagnosticDescriptor NoLayer = Error(
        "DBX0010", "Model has no layer",
        "Class '{0}' has no Rnn, Lstm, Gru or Linear layer; declare at least one");

    public static readonly DiagnosticDescriptor BadName = Error(
        "DBX0011", "Invalid layer name",
        "[{0}] Name = \"{1}\" cannot prefix parameter names; use letters, digits and '_' without '.'");

    public static readonly DiagnosticDescriptor DuplicateName = Error(
        "DBX0012", "Duplicate layer name",
        "[{0}] Name = \"{1}\" is used by another layer; parameter names must be unique");

    public static readonly DiagnosticDescriptor NotConstant = Error(
        "DBX0013", "Attribute argument is not readable",
        "[{0}] has an argument the generator cannot read as a constant; use literal values or constants");

    public static readonly DiagnosticDescriptor StaticClass = Error(
        "DBX0014", "Model class cannot be static",
        "Class '{0}' is static; a model has instance state, remove 'static'");

    public static readonly DiagnosticDescriptor DropoutSingleLayer = new(
        "DBX0015", "Dropout has no effect with one layer",
        "[{0}] Dropout = {1} with NumLayers = 1 has no effect: dropout applies between stacked layers only",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor SplitDeclaration = Error(
        "DBX0016", "Layer attributes split across partial declarations",
        "Layer attributes of '{0}' sit on more than one partial declaration, so their order is not defined; keep them on one declaration, in data-flow order");

    public static readonly DiagnosticDescriptor MemberClash = Error(
        "DBX0017", "Member clashes with a generated member",
        "Class '{0}' declares '{1}', which Deepbox generates for the model; rename or remove it");

    public static readonly DiagnosticDescriptor EmbeddingNotFirst = Error(
        "DBX0018", "Embedding is not the first layer",
        "[Embedding] of '{0}' is layer {1}; a table of token vectors turns token ids into the first layer's input, so it can only come first");

    public static readonly DiagnosticDescriptor PaddingIdxOutOfRange = Error(
        "DBX0019", "Embedding PaddingIdx out of range",
        "[Embedding] PaddingIdx is {0}; it must be an id in [0, {1}) or -1 (none)");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = Index(
        NotPartial, ContainingTypeNotPartial, Generic, SizeOutOfRange, WidthMismatch, DropoutOutOfRange,
        BatchFirstDiffers, LastStepTwice, RecurrentAfterLastStep, NoLayer, BadName, DuplicateName, NotConstant,
        StaticClass, DropoutSingleLayer, SplitDeclaration, MemberClash, EmbeddingNotFirst, PaddingIdxOutOfRange);

    public static DiagnosticDescriptor Get(string id) => ById[id];

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static Dictionary<string, DiagnosticDescriptor> Index(params DiagnosticDescriptor[] all)
    {
        var map = new Dictionary<string, DiagnosticDescriptor>();
        foreach (DiagnosticDescriptor d in all)
        {
            map.Add(d.Id, d);
        }

        return map;
    }
}
