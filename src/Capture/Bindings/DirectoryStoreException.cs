namespace Capture.Bindings;

/// <summary>
/// The directory store's state could not be recovered, or written durably. The message names the state directory;
/// nothing in it is deleted or reset (never a silent wipe), so an administrator can move it aside or restore it.
/// </summary>
public sealed class DirectoryStoreException : Exception
{
    public DirectoryStoreException() { }

    public DirectoryStoreException(string message) : base(message) { }

    public DirectoryStoreException(string message, Exception? innerException) : base(message, innerException) { }
}
