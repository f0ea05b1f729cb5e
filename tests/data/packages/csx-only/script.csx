public class Script : ScriptBase
{
    public override async Task<HttpResponseMessage> ExecuteAsync()
    {
        switch (this.Context.OperationId)
        {
            case "Convert":
                var body = await this.Context.Request.Content.ReadAsStringAsync().ConfigureAwait(false);
                var response = new HttpResponseMessage(HttpStatusCode.OK);
                response.Content = CreateJsonContent("{\"text\": \"" + body.ToUpperInvariant() + "\"}");
                return response;
            default:
                return await this.Context.SendAsync(this.Context.Request, this.CancellationToken).ConfigureAwait(false);
        }
    }
}
