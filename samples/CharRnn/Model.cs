using Deepbox;

namespace CharRnnSample;

/// <summary>
/// A character-level language model: each character's vector (id 0 is padding, id 1 the line break that starts and
/// ends every line), two LSTM layers with dropout between them, and a linear head to one score per character.
/// </summary>
[Embedding(Corpus.Vocabulary, 32, PaddingIdx = Corpus.Padding, Name = "embedding")]
[Lstm(32, 128, NumLayers = 2, Dropout = 0.2f, Name = "lstm")]
[Linear(128, Corpus.Vocabulary, Name = "head")]
public sealed partial class CharModel;
